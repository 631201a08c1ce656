package server

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"orchestrator/store"
)

// Metrics are the service's Prometheus metrics. The engine reports runs to it;
// the server counts requests by route pattern (never by raw path, which would
// make a series per deployment id).
type Metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	// requestCounters caches requests' counters by requestKey.
	requestCounters sync.Map
	runs            *prometheus.CounterVec
	runDurations    *prometheus.HistogramVec
	terraform       prometheus.Gauge
}

// NewMetrics builds the metrics on their own registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "orchestrator_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code."}, []string{"route", "method", "code"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "orchestrator_runs_total",
			Help: "Finished Terraform runs by kind and result."}, []string{"kind", "result"}),
		runDurations: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "orchestrator_run_duration_seconds",
			Help: "Duration of Terraform runs by kind.", Buckets: []float64{0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}},
			[]string{"kind"}),
		terraform: prometheus.NewGauge(prometheus.GaugeOpts{Name: "orchestrator_terraform_processes",
			Help: "Terraform processes running now."}),
	}
	m.registry.MustRegister(m.requests, m.runs, m.runDurations, m.terraform,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// RunFinished records a finished run.
func (m *Metrics) RunFinished(kind store.RunKind, status store.RunStatus, d time.Duration) {
	m.runs.WithLabelValues(string(kind), string(status)).Inc()
	if d > 0 {
		m.runDurations.WithLabelValues(string(kind)).Observe(d.Seconds())
	}
}

// TerraformProcesses moves the count of running Terraform processes.
func (m *Metrics) TerraformProcesses(delta int) { m.terraform.Add(float64(delta)) }

// watchQueue exports the queue depth, read from the store at scrape time.
func (m *Metrics) watchQueue(st *store.Store) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "orchestrator_queue_depth",
		Help: "Runs queued and not started yet."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := st.Runs.QueueDepth(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	}))
}

// countRequests is the middleware that counts requests by route pattern.
func (s *Server) countRequests(c *fiber.Ctx) error {
	err := c.Next()
	if err != nil {
		if herr := s.app.Config().ErrorHandler(c, err); herr != nil {
			return herr
		}
	}
	route := "unmatched"
	if r := c.Route(); r != nil && r.Path != "/" && r.Path != "" {
		route = r.Path
	}
	s.metrics.requestCounter(route, c.Method(), c.Response().StatusCode()).Inc()
	return nil
}

type requestKey struct {
	route, method string
	code          int
}

// requestCounter is the counter of one route, method and status, looked up
// once (the vector hashes its label values on every lookup).
func (m *Metrics) requestCounter(route, method string, code int) prometheus.Counter {
	k := requestKey{route, method, code}
	if c, ok := m.requestCounters.Load(k); ok {
		return c.(prometheus.Counter)
	}
	c := m.requests.WithLabelValues(route, method, strconv.Itoa(code))
	m.requestCounters.Store(k, c)
	return c
}

func (s *Server) metricsHandler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
}
