package ossim

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// Cinder (block storage v3): volumes that go creating -> available ->
// attaching -> in-use -> detaching -> available, extend (online from 3.42),
// delete (refused while attached), volume types, quotas.

const cinderMaxMicroversion = "3.70"

type volume struct {
	id, name, description, projectID, userID string
	status, az, volumeType, snapshotID       string
	sizeGB                                   int
	metadata                                 map[string]string
	attachments                              []*cinderAttachment
	created, updated                         time.Time
}

type cinderAttachment struct {
	id, serverID, device string
	at                   time.Time
}

// detach drops a server's attachment; the volume is available once it has none.
func (v *volume) detach(serverID string) {
	v.attachments = slices.DeleteFunc(v.attachments, func(a *cinderAttachment) bool { return a.serverID == serverID })
	if len(v.attachments) == 0 && (v.status == "in-use" || v.status == "detaching" || v.status == "attaching") {
		v.status = "available"
	}
	v.updated = time.Now()
}

func cinderMicroversion(r *http.Request) string {
	if v := r.Header.Get("X-OpenStack-Volume-API-Version"); v != "" {
		return v
	}
	if v := r.Header.Get("OpenStack-API-Version"); strings.HasPrefix(v, "volume ") {
		return strings.TrimPrefix(v, "volume ")
	}
	return "3.0"
}

func (c *Cloud) serveVolume(x *call) {
	mv := cinderMicroversion(x.r)
	if mv == "latest" {
		mv = cinderMaxMicroversion
	}
	if !atLeast(cinderMaxMicroversion, mv) || !atLeast(mv, "3.0") {
		x.fail(http.StatusNotAcceptable, fmt.Sprintf("Version %s is not supported by the API. Minimum is 3.0 and maximum is %s.", mv, cinderMaxMicroversion))
		return
	}
	x.w.Header().Set("OpenStack-API-Version", "volume "+mv)
	if x.path == "/" || x.path == "" {
		x.json(http.StatusMultipleChoices, map[string]any{"versions": []any{c.cinderVersion()}})
		return
	}
	if x.path == "/v3" || x.path == "/v3/" {
		x.json(http.StatusOK, map[string]any{"versions": []any{c.cinderVersion()}})
		return
	}
	parts := strings.SplitN(strings.TrimPrefix(x.path, "/v3/"), "/", 2)
	if parts[0] != x.project() {
		x.fail(http.StatusBadRequest, "Malformed request url")
		return
	}
	x.path = "/"
	if len(parts) == 2 {
		x.path = "/" + parts[1]
	}
	if _, ok := x.match(http.MethodPost, "/volumes"); ok {
		c.createVolume(x)
	} else if _, ok := x.match(http.MethodGet, "/volumes"); ok {
		c.listVolumes(x, false)
	} else if _, ok := x.match(http.MethodGet, "/volumes/detail"); ok {
		c.listVolumes(x, true)
	} else if v, ok := x.match("", "/volumes/*"); ok {
		vol := c.visibleVolume(x, v[0])
		if vol == nil {
			return
		}
		switch x.r.Method {
		case http.MethodGet:
			x.json(http.StatusOK, map[string]any{"volume": c.volumeBody(vol, mv)})
		case http.MethodPut:
			c.updateVolume(x, vol, mv)
		case http.MethodDelete:
			c.deleteVolume(x, vol)
		default:
			x.fail(http.StatusMethodNotAllowed, "The method specified is not allowed for this resource.")
		}
	} else if v, ok := x.match(http.MethodPost, "/volumes/*/action"); ok {
		if vol := c.visibleVolume(x, v[0]); vol != nil {
			c.volumeAction(x, vol, mv)
		}
	} else if _, ok := x.match(http.MethodGet, "/types"); ok {
		var list []any
		for _, t := range c.volumeTypes {
			list = append(list, volumeTypeBody(t))
		}
		x.json(http.StatusOK, map[string]any{"volume_types": list})
	} else if v, ok := x.match(http.MethodGet, "/types/*"); ok {
		if !slices.Contains(c.volumeTypes, v[0]) {
			x.fail(http.StatusNotFound, fmt.Sprintf("Volume type %s could not be found.", v[0]))
			return
		}
		x.json(http.StatusOK, map[string]any{"volume_type": volumeTypeBody(v[0])})
	} else if _, ok := x.match(http.MethodGet, "/os-availability-zone"); ok {
		var zones []any
		for _, z := range c.azs {
			zones = append(zones, map[string]any{"zoneName": z, "zoneState": map[string]any{"available": true}})
		}
		x.json(http.StatusOK, map[string]any{"availabilityZoneInfo": zones})
	} else {
		x.notImplemented()
	}
}

func (c *Cloud) cinderVersion() map[string]any {
	return map[string]any{"id": "v3.0", "status": "CURRENT", "version": cinderMaxMicroversion, "min_version": "3.0", "updated": "2023-08-31T00:00:00Z",
		"links":       []any{map[string]any{"rel": "self", "href": c.URL + "/volume/v3/"}},
		"media-types": []any{map[string]any{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}}}
}

// volume types are named and identified by the same string here.
func volumeTypeBody(name string) map[string]any {
	return map[string]any{"id": name, "name": name, "is_public": true, "description": nil, "extra_specs": map[string]any{}}
}

func (c *Cloud) visibleVolume(x *call, id string) *volume {
	v := c.volumes[id]
	if v == nil || v.projectID != x.project() {
		x.fail(http.StatusNotFound, fmt.Sprintf("Volume %s could not be found.", id))
		return nil
	}
	return v
}

func (c *Cloud) volumeBody(v *volume, mv string) map[string]any {
	var atts []any
	for _, a := range v.attachments {
		atts = append(atts, map[string]any{"id": v.id, "attachment_id": a.id, "volume_id": v.id, "server_id": a.serverID,
			"host_name": nil, "device": a.device, "attached_at": stampMicro(a.at)})
	}
	b := map[string]any{"id": v.id, "name": v.name, "description": nilIfEmpty(v.description), "size": v.sizeGB, "status": v.status,
		"availability_zone": v.az, "volume_type": v.volumeType, "snapshot_id": nilIfEmpty(v.snapshotID), "source_volid": nil,
		"metadata": v.metadata, "attachments": nonNil(atts), "bootable": "false", "encrypted": false, "multiattach": false,
		"replication_status": nil, "consistencygroup_id": nil, "user_id": v.userID, "os-vol-tenant-attr:tenant_id": v.projectID,
		"created_at": stampMicro(v.created), "updated_at": stampMicro(v.updated),
		"links": []any{map[string]any{"rel": "self", "href": c.URL + "/volume/v3/" + v.projectID + "/volumes/" + v.id}}}
	if atLeast(mv, "3.48") {
		b["shared_targets"] = true
		b["service_uuid"] = "8d6b41d6-6f2c-4f83-9c50-3b8c9b1b0a11"
	}
	if atLeast(mv, "3.63") {
		b["volume_type_id"] = v.volumeType
	}
	return b
}

func (c *Cloud) listVolumes(x *call, detail bool) {
	var list []*volume
	for _, v := range c.volumes {
		if v.projectID == x.project() {
			list = append(list, v)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].created.After(list[j].created) })
	mv := cinderMicroversion(x.r)
	name := x.r.URL.Query().Get("name")
	var out []any
	for _, v := range list {
		if name != "" && v.name != name {
			continue
		}
		if detail {
			out = append(out, c.volumeBody(v, mv))
		} else {
			out = append(out, map[string]any{"id": v.id, "name": v.name})
		}
	}
	x.json(http.StatusOK, map[string]any{"volumes": nonNil(out)})
}

func (c *Cloud) volumeUsage(projectID string) (count, gigabytes int) {
	for _, v := range c.volumes {
		if v.projectID == projectID {
			count++
			gigabytes += v.sizeGB
		}
	}
	return count, gigabytes
}

// overLimit is Cinder's 413 for quota errors.
func overLimit(x *call, msg string) {
	x.json(http.StatusRequestEntityTooLarge, map[string]any{"overLimit": map[string]any{"code": 413, "message": msg, "retryAfter": "0"}})
}

func (c *Cloud) createVolume(x *call) {
	var req struct {
		Volume *struct {
			Size             *float64          `json:"size"`
			Name             string            `json:"name"`
			Description      string            `json:"description"`
			VolumeType       string            `json:"volume_type"`
			AvailabilityZone string            `json:"availability_zone"`
			SnapshotID       string            `json:"snapshot_id"`
			SourceVolID      string            `json:"source_volid"`
			ImageRef         string            `json:"imageRef"`
			BackupID         string            `json:"backup_id"`
			Metadata         map[string]string `json:"metadata"`
		} `json:"volume"`
	}
	if !x.decode(&req) {
		return
	}
	r := req.Volume
	if r == nil {
		x.fail(http.StatusBadRequest, "Invalid input for field/attribute volume. Value: None. None is not of type 'object'")
		return
	}
	if r.SnapshotID != "" {
		x.fail(http.StatusNotFound, fmt.Sprintf("Snapshot %s could not be found.", r.SnapshotID))
		return
	}
	if r.SourceVolID != "" || r.ImageRef != "" || r.BackupID != "" {
		x.notImplemented() // volumes from volumes, images or backups are not simulated
		return
	}
	if r.Size == nil || *r.Size < 1 || *r.Size != float64(int(*r.Size)) {
		val := "None"
		if r.Size != nil {
			val = fmt.Sprint(*r.Size)
		}
		x.fail(http.StatusBadRequest, fmt.Sprintf("Invalid input for field/attribute size. Value: %s. %s is less than the minimum of 1", val, val))
		return
	}
	size := int(*r.Size)
	vt := r.VolumeType
	if vt == "" {
		vt = c.volumeTypes[0]
	} else if !slices.Contains(c.volumeTypes, vt) {
		x.fail(http.StatusNotFound, fmt.Sprintf("Volume type with name %s could not be found.", vt))
		return
	}
	az := r.AvailabilityZone
	if az == "" {
		az = AvailabilityZone
	} else if !slices.Contains(c.azs, az) {
		x.fail(http.StatusBadRequest, fmt.Sprintf("Availability zone '%s' is invalid.", az))
		return
	}
	q := c.quota(x.project())
	count, gigabytes := c.volumeUsage(x.project())
	if count+1 > q.Volumes {
		overLimit(x, fmt.Sprintf("Maximum number of volumes allowed (%d) exceeded for quota 'volumes'.", q.Volumes))
		return
	}
	if gigabytes+size > q.Gigabytes {
		overLimit(x, fmt.Sprintf("Requested volume or snapshot exceeds allowed gigabytes quota. Requested %dG, quota is %dG and %dG has been consumed.", size, q.Gigabytes, gigabytes))
		return
	}
	now := time.Now()
	v := &volume{id: newID(), name: r.Name, description: r.Description, projectID: x.project(), userID: x.token.userID,
		status: "creating", az: az, volumeType: vt, sizeGB: size, metadata: map[string]string{}, created: now, updated: now}
	for k, val := range r.Metadata {
		v.metadata[k] = val
	}
	c.volumes[v.id] = v
	c.later(c.opts.VolumeTime, func() {
		if c.volumes[v.id] == v && v.status == "creating" {
			v.status, v.updated = "available", time.Now()
		}
	})
	x.json(http.StatusAccepted, map[string]any{"volume": c.volumeBody(v, cinderMicroversion(x.r))})
}

func (c *Cloud) updateVolume(x *call, v *volume, mv string) {
	var req struct {
		Volume map[string]any `json:"volume"`
	}
	if !x.decode(&req) {
		return
	}
	for k, val := range req.Volume {
		switch k {
		case "name":
			v.name, _ = val.(string)
		case "description":
			v.description, _ = val.(string)
		case "metadata":
			m, _ := val.(map[string]any)
			v.metadata = map[string]string{}
			for mk, mv := range m {
				v.metadata[mk] = fmt.Sprint(mv)
			}
		default:
			x.fail(http.StatusBadRequest, fmt.Sprintf("Invalid input for field/attribute volume. Additional properties are not allowed ('%s' was unexpected)", k))
			return
		}
	}
	v.updated = time.Now()
	x.json(http.StatusOK, map[string]any{"volume": c.volumeBody(v, mv)})
}

// deletable are the statuses Cinder deletes a volume from.
var deletable = []string{"available", "error", "error_restoring", "error_extending", "error_managing"}

func (c *Cloud) deleteVolume(x *call, v *volume) {
	if !slices.Contains(deletable, v.status) || len(v.attachments) > 0 {
		x.fail(http.StatusBadRequest, "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots or be disassociated from snapshots after volume transfer.")
		return
	}
	v.status, v.updated = "deleting", time.Now()
	c.later(c.opts.DeleteTime, func() {
		if c.volumes[v.id] == v {
			delete(c.volumes, v.id)
		}
	})
	x.empty(http.StatusAccepted)
}

func (c *Cloud) volumeAction(x *call, v *volume, mv string) {
	var req map[string]any
	if !x.decode(&req) {
		return
	}
	if len(req) != 1 {
		x.fail(http.StatusBadRequest, "Malformed request body")
		return
	}
	for action, arg := range req {
		switch action {
		case "os-extend":
			m, _ := arg.(map[string]any)
			size, ok := m["new_size"].(float64)
			if !ok || size != float64(int(size)) {
				x.fail(http.StatusBadRequest, fmt.Sprintf("Invalid input for field/attribute new_size. Value: %v. %v is not of type 'integer'", m["new_size"], m["new_size"]))
				return
			}
			online := v.status == "in-use" && atLeast(mv, "3.42")
			if v.status != "available" && !online {
				x.fail(http.StatusBadRequest, fmt.Sprintf("Invalid volume: Volume %s status must be 'available' or 'in-use' (from microversion 3.42) to extend, but current status is: %s.", v.id, v.status))
				return
			}
			if int(size) <= v.sizeGB {
				x.fail(http.StatusBadRequest, fmt.Sprintf("Invalid input received: New size for extend must be greater than current size. (current: %d, extended: %d).", v.sizeGB, int(size)))
				return
			}
			q := c.quota(v.projectID)
			_, used := c.volumeUsage(v.projectID)
			if delta := int(size) - v.sizeGB; used+delta > q.Gigabytes {
				overLimit(x, fmt.Sprintf("Requested volume or snapshot exceeds allowed gigabytes quota. Requested %dG, quota is %dG and %dG has been consumed.", delta, q.Gigabytes, used))
				return
			}
			back := v.status
			v.status = "extending"
			c.later(c.opts.VolumeTime, func() {
				if c.volumes[v.id] == v && v.status == "extending" {
					v.sizeGB, v.status, v.updated = int(size), back, time.Now()
				}
			})
			x.empty(http.StatusAccepted)
		case "os-reset_status", "os-attach", "os-detach", "os-begin_detaching", "os-roll_detaching", "os-reserve", "os-unreserve",
			"os-initialize_connection", "os-terminate_connection", "os-retype", "os-set_bootable", "os-volume_upload_image",
			"os-force_delete", "os-migrate_volume", "revert", "os-set_image_metadata", "os-unset_image_metadata", "os-update_readonly_flag":
			x.notImplemented()
		default:
			x.fail(http.StatusBadRequest, "There is no such action: "+action)
		}
	}
}
