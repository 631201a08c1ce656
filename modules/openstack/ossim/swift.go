package ossim

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Swift (object storage v1): containers with metadata (what the
// object_storage module makes), listing, deletion (refused while not empty)
// and plain objects, enough for force_destroy and quota checks.

type container struct {
	name, projectID string
	headers         map[string]string // X-Container-Meta-*, X-Container-Read/Write, X-Versions-Location...
	objects         map[string]*object
	created         time.Time
}

type object struct {
	name, contentType string
	data              []byte
	modified          time.Time
}

func (c *Cloud) serveObjectStore(x *call) {
	parts := strings.SplitN(strings.TrimPrefix(x.path, "/v1/"), "/", 3)
	if !strings.HasPrefix(x.path, "/v1/") || parts[0] != "AUTH_"+x.project() {
		x.w.WriteHeader(http.StatusForbidden)
		io.WriteString(x.w, "<html><h1>Forbidden</h1><p>Access was denied to this resource.</p></html>")
		return
	}
	x.w.Header().Set("X-Trans-Id", "tx"+newHex()[:21])
	switch len(parts) {
	case 1:
		c.swiftAccount(x)
	case 2:
		if parts[1] == "" {
			c.swiftAccount(x)
			return
		}
		c.swiftContainer(x, parts[1])
	default:
		c.swiftObject(x, parts[1], parts[2])
	}
}

func swiftNotFound(x *call) {
	x.w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	x.w.WriteHeader(http.StatusNotFound)
	if x.r.Method != http.MethodHead {
		io.WriteString(x.w, "<html><h1>Not Found</h1><p>The resource could not be found.</p></html>")
	}
}

func (c *Cloud) projectContainers(projectID string) []*container {
	var out []*container
	for _, ct := range c.containers {
		if ct.projectID == projectID {
			out = append(out, ct)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func (c *Cloud) swiftAccount(x *call) {
	list := c.projectContainers(x.project())
	x.w.Header().Set("X-Account-Container-Count", strconv.Itoa(len(list)))
	x.w.Header().Set("X-Account-Object-Count", "0")
	x.w.Header().Set("X-Account-Bytes-Used", "0")
	switch x.r.Method {
	case http.MethodHead:
		x.empty(http.StatusNoContent)
	case http.MethodGet:
		var names []any
		for _, ct := range list {
			names = append(names, map[string]any{"name": ct.name, "count": len(ct.objects), "bytes": ct.bytes(), "last_modified": stampMicro(ct.created)})
		}
		swiftList(x, names, func(v any) string { return v.(map[string]any)["name"].(string) })
	default:
		x.w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func (ct *container) bytes() int {
	n := 0
	for _, o := range ct.objects {
		n += len(o.data)
	}
	return n
}

// swiftList answers a listing as JSON or as plain names (204 when empty).
func swiftList(x *call, items []any, name func(any) string) {
	if f := x.r.URL.Query().Get("format"); f == "json" || strings.Contains(x.r.Header.Get("Accept"), "application/json") {
		x.json(http.StatusOK, nonNil(items))
		return
	}
	if len(items) == 0 {
		x.empty(http.StatusNoContent)
		return
	}
	x.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	x.w.WriteHeader(http.StatusOK)
	for _, it := range items {
		io.WriteString(x.w, name(it)+"\n")
	}
}

var containerHeaders = []string{"X-Container-Read", "X-Container-Write", "X-Container-Sync-To", "X-Container-Sync-Key",
	"X-Versions-Location", "X-History-Location", "X-Versions-Enabled", "X-Storage-Policy"}

func (c *Cloud) swiftContainer(x *call, name string) {
	key := x.project() + "/" + name
	ct := c.containers[key]
	switch x.r.Method {
	case http.MethodPut:
		if len(name) > 256 {
			x.w.WriteHeader(http.StatusBadRequest)
			io.WriteString(x.w, "Container name length of 257 longer than 256")
			return
		}
		status := http.StatusAccepted
		if ct == nil {
			ct = &container{name: name, projectID: x.project(), headers: map[string]string{"X-Storage-Policy": "Policy-0"}, objects: map[string]*object{}, created: time.Now()}
			c.containers[key] = ct
			status = http.StatusCreated
		}
		applyContainerHeaders(ct, x.r.Header)
		x.w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		x.empty(status)
	case http.MethodPost:
		if ct == nil {
			swiftNotFound(x)
			return
		}
		applyContainerHeaders(ct, x.r.Header)
		x.empty(http.StatusNoContent)
	case http.MethodHead, http.MethodGet:
		if ct == nil {
			swiftNotFound(x)
			return
		}
		for k, v := range ct.headers {
			x.w.Header().Set(k, v)
		}
		x.w.Header().Set("X-Container-Object-Count", strconv.Itoa(len(ct.objects)))
		x.w.Header().Set("X-Container-Bytes-Used", strconv.Itoa(ct.bytes()))
		x.w.Header().Set("X-Timestamp", fmt.Sprintf("%d.00000", ct.created.Unix()))
		x.w.Header().Set("Last-Modified", ct.created.UTC().Format(http.TimeFormat))
		if x.r.Method == http.MethodHead {
			x.empty(http.StatusNoContent)
			return
		}
		var names []string
		for n := range ct.objects {
			names = append(names, n)
		}
		sort.Strings(names)
		var items []any
		for _, n := range names {
			o := ct.objects[n]
			items = append(items, map[string]any{"name": n, "bytes": len(o.data), "content_type": o.contentType,
				"hash": "d41d8cd98f00b204e9800998ecf8427e", "last_modified": stampMicro(o.modified)})
		}
		swiftList(x, items, func(v any) string { return v.(map[string]any)["name"].(string) })
	case http.MethodDelete:
		if ct == nil {
			swiftNotFound(x)
			return
		}
		if len(ct.objects) > 0 {
			x.w.Header().Set("Content-Type", "text/html; charset=UTF-8")
			x.w.WriteHeader(http.StatusConflict)
			io.WriteString(x.w, "<html><h1>Conflict</h1><p>There was a conflict when trying to complete your request.</p></html>")
			return
		}
		delete(c.containers, key)
		x.empty(http.StatusNoContent)
	default:
		x.w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func applyContainerHeaders(ct *container, h http.Header) {
	for k, v := range h {
		ck := http.CanonicalHeaderKey(k)
		switch {
		case strings.HasPrefix(ck, "X-Remove-Container-Meta-"):
			delete(ct.headers, "X-Container-Meta-"+strings.TrimPrefix(ck, "X-Remove-Container-Meta-"))
		case strings.HasPrefix(ck, "X-Container-Meta-"):
			if v[0] == "" {
				delete(ct.headers, ck)
			} else {
				ct.headers[ck] = v[0]
			}
		default:
			for _, allowed := range containerHeaders {
				if ck == allowed {
					ct.headers[ck] = v[0]
				}
			}
		}
	}
}

func (c *Cloud) swiftObject(x *call, containerName, name string) {
	ct := c.containers[x.project()+"/"+containerName]
	if ct == nil {
		swiftNotFound(x)
		return
	}
	o := ct.objects[name]
	switch x.r.Method {
	case http.MethodPut:
		data, err := io.ReadAll(io.LimitReader(x.r.Body, 16<<20))
		if err != nil {
			x.w.WriteHeader(http.StatusBadRequest)
			return
		}
		if q, err := strconv.Atoi(ct.headers["X-Container-Meta-Quota-Bytes"]); err == nil && ct.bytes()+len(data) > q {
			x.w.WriteHeader(http.StatusRequestEntityTooLarge)
			io.WriteString(x.w, "Upload exceeds quota.")
			return
		}
		ct.objects[name] = &object{name: name, contentType: x.r.Header.Get("Content-Type"), data: data, modified: time.Now()}
		x.empty(http.StatusCreated)
	case http.MethodGet, http.MethodHead:
		if o == nil {
			swiftNotFound(x)
			return
		}
		x.w.Header().Set("Content-Length", strconv.Itoa(len(o.data)))
		x.w.Header().Set("Content-Type", o.contentType)
		x.w.WriteHeader(http.StatusOK)
		if x.r.Method == http.MethodGet {
			x.w.Write(o.data)
		}
	case http.MethodDelete:
		if o == nil {
			swiftNotFound(x)
			return
		}
		delete(ct.objects, name)
		x.empty(http.StatusNoContent)
	default:
		x.w.WriteHeader(http.StatusMethodNotAllowed)
	}
}
