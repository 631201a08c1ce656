package server

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"orchestrator/store"
)

// query reads a request's query string and refuses parameters a route does not
// know: a typo in a filter must not silently return everything.
type query struct {
	values url.Values
}

func parseQuery(c *fiber.Ctx, allowed ...string) (*query, error) {
	values, err := url.ParseQuery(string(c.Request().URI().QueryString()))
	if err != nil {
		return nil, badRequest("malformed query string: %s", err.Error())
	}
	known := map[string]bool{}
	for _, a := range allowed {
		known[a] = true
	}
	for k := range values {
		if !known[k] {
			return nil, store.Errorf(store.EBadRequest, "unknown query parameter %q", truncate(k, 100)).
				WithDetails(store.Detail{Field: truncate(k, 100), Message: "allowed: " + strings.Join(allowed, ", ")})
		}
	}
	return &query{values: values}, nil
}

func (q *query) str(name string) string { return q.values.Get(name) }

func (q *query) all(name string) []string {
	out := []string{}
	for _, v := range q.values[name] {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

func (q *query) boolean(name string) (bool, error) {
	v := q.values.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, store.Errorf(store.EBadRequest, "query parameter %s must be true or false", name).
			WithDetails(store.Detail{Field: name, Message: "not a boolean"})
	}
	return b, nil
}

func (q *query) timestamp(name string) (*time.Time, error) {
	v := q.values.Get(name)
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, store.Errorf(store.EBadRequest, "query parameter %s must be an RFC 3339 time such as 2026-01-02T15:04:05Z", name).
			WithDetails(store.Detail{Field: name, Message: "not an RFC 3339 time"})
	}
	return &t, nil
}

// page reads page and size: page from 1, size from 1 to store.MaxPageSize.
func (q *query) page() (store.Page, error) {
	p := store.Page{Number: 1, Size: store.DefaultPageSize}
	for _, f := range []struct {
		name string
		dst  *int
		max  int
	}{{"page", &p.Number, math.MaxInt32}, {"size", &p.Size, store.MaxPageSize}} {
		v := q.values.Get(f.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > f.max {
			return p, store.Errorf(store.EBadRequest, "query parameter %s must be a whole number from 1 to %d", f.name, f.max).
				WithDetails(store.Detail{Field: f.name, Message: fmt.Sprintf("got %q", truncate(v, 40))})
		}
		*f.dst = n
	}
	return p, nil
}

// PageInfo is the "page" object of every list response.
type PageInfo struct {
	Number     int `json:"number"`
	Size       int `json:"size"`
	TotalItems int `json:"total_items"`
	TotalPages int `json:"total_pages"`
}

// Links are the navigation links of a list response; absent ones are null.
type Links struct {
	First *string `json:"first"`
	Prev  *string `json:"prev"`
	Next  *string `json:"next"`
	Last  *string `json:"last"`
}

// List is the shape of every list response.
type List[T any] struct {
	Items []T      `json:"items"`
	Page  PageInfo `json:"page"`
	Links Links    `json:"links"`
}

// newList builds a list response with links that keep the request's filters.
func newList[T any](c *fiber.Ctx, items []T, p store.Page, total store.Total) List[T] {
	if items == nil {
		items = []T{}
	}
	pages := total.Pages
	link := func(n int) *string {
		values, _ := url.ParseQuery(string(c.Request().URI().QueryString()))
		values.Set("page", strconv.Itoa(n))
		values.Set("size", strconv.Itoa(p.Size))
		s := c.Path() + "?" + values.Encode()
		return &s
	}
	l := Links{First: link(1), Last: link(max(pages, 1))}
	if p.Number > 1 {
		l.Prev = link(min(p.Number-1, max(pages, 1)))
	}
	if p.Number < pages {
		l.Next = link(p.Number + 1)
	}
	return List[T]{Items: items, Page: PageInfo{Number: p.Number, Size: p.Size, TotalItems: total.Items, TotalPages: pages}, Links: l}
}

// singlePage wraps a short, complete list (a user's keys, a deployment's
// resources: each bounded well under MaxPageSize) in the list shape: one page of
// the largest page size, so page.size is a page size like everywhere else.
func singlePage[T any](c *fiber.Ctx, items []T) List[T] {
	return newList(c, items, store.Page{Number: 1, Size: store.MaxPageSize}, store.Total{Items: len(items), Pages: 1})
}
