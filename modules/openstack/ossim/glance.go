package ossim

import (
	"fmt"
	"net/http"
	"sort"
	"time"
)

// Glance (image v2): listing and showing images, by name or id. Images are
// seeded or added by tests (AddImage); uploads are not simulated.

type image struct {
	id, name, status, visibility, owner string
	minDiskGB, minRAMMB                 int
	sizeBytes                           int64
	properties                          map[string]string
	created                             time.Time
}

func (i *image) visibleTo(projectID string) bool {
	return i.visibility == "public" || i.visibility == "community" || i.owner == projectID
}

// Image describes an image a test adds.
type Image struct {
	Name       string
	MinDiskGB  int
	MinRAMMB   int
	Private    bool              // visible only to the demo project
	Properties map[string]string // e.g. os_distro, os_version
}

// AddImage adds an active image and returns its id.
func (c *Cloud) AddImage(im Image) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addImage(im)
}

func (c *Cloud) addImage(im Image) string {
	i := &image{id: newID(), name: im.Name, status: "active", visibility: "public", minDiskGB: im.MinDiskGB, minRAMMB: im.MinRAMMB,
		sizeBytes: 1 << 30, properties: im.Properties, created: time.Now()}
	if im.Private {
		i.visibility, i.owner = "private", c.projectByName(ProjectName).id
	}
	c.images[i.id] = i
	c.seeded[i.id] = true
	return i.id
}

func (c *Cloud) serveImage(x *call) {
	if x.path == "/" || x.path == "" || x.path == "/versions" {
		x.json(http.StatusMultipleChoices, map[string]any{"versions": []any{
			map[string]any{"id": "v2.16", "status": "CURRENT", "links": []any{map[string]any{"rel": "self", "href": c.URL + "/image/v2/"}}},
			map[string]any{"id": "v2.0", "status": "SUPPORTED", "links": []any{map[string]any{"rel": "self", "href": c.URL + "/image/v2/"}}},
		}})
		return
	}
	if _, ok := x.match(http.MethodGet, "/v2/images"); ok {
		q := x.r.URL.Query()
		var list []*image
		for _, i := range c.images {
			if !i.visibleTo(x.project()) {
				continue
			}
			if n := q.Get("name"); n != "" && i.name != n {
				continue
			}
			if s := q.Get("status"); s != "" && i.status != s {
				continue
			}
			if v := q.Get("visibility"); v != "" && v != "all" && i.visibility != v {
				continue
			}
			list = append(list, i)
		}
		sort.Slice(list, func(a, b int) bool {
			return list[a].created.After(list[b].created) || list[a].id < list[b].id && list[a].created.Equal(list[b].created)
		})
		var out []any
		for _, i := range list {
			out = append(out, c.imageBody(i))
		}
		x.json(http.StatusOK, map[string]any{"images": nonNil(out), "schema": "/v2/schemas/images", "first": "/v2/images"})
		return
	}
	if v, ok := x.match(http.MethodGet, "/v2/images/*"); ok {
		i := c.images[v[0]]
		if i == nil || !i.visibleTo(x.project()) {
			x.fail(http.StatusNotFound, fmt.Sprintf("No image found with ID %s", v[0]))
			return
		}
		x.json(http.StatusOK, c.imageBody(i))
		return
	}
	x.notImplemented()
}

func (c *Cloud) imageBody(i *image) map[string]any {
	b := map[string]any{"id": i.id, "name": i.name, "status": i.status, "visibility": i.visibility, "owner": i.owner,
		"min_disk": i.minDiskGB, "min_ram": i.minRAMMB, "size": i.sizeBytes, "virtual_size": nil, "disk_format": "qcow2",
		"container_format": "bare", "checksum": "d41d8cd98f00b204e9800998ecf8427e", "os_hash_algo": "sha512",
		"os_hash_value": "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
		"protected":     false, "os_hidden": false, "tags": []any{}, "created_at": stamp(i.created), "updated_at": stamp(i.created),
		"self": "/v2/images/" + i.id, "file": "/v2/images/" + i.id + "/file", "schema": "/v2/schemas/image"}
	for k, v := range i.properties {
		b[k] = v
	}
	return b
}
