package tosca2tf

import (
	"fmt"
	"regexp"
	"strings"

	"orchestrator/modules"
)

// attachedBy lists the Computes that attach a volume, with their relationship.
func (tr *translator) attachedBy(vol *NodeTemplate) []*NodeTemplate {
	var out []*NodeTemplate
	for _, info := range tr.order {
		if info.Kind != string(modules.Compute) {
			continue
		}
		for _, r := range info.node.Requirements {
			if r.Node == vol.Name && tr.reg.IsA(RelationshipType, r.Relationship, relAttachesTo) {
				out = append(out, info.node)
				break
			}
		}
	}
	return out
}

func (tr *translator) blockStorage(info *nodeInfo, args map[string]any) {
	n := info.node
	if v, ok := tr.nodeProp(n, "size"); ok {
		if gb := tr.sizeArg(n, v, "GiB", "size"); gb != nil && gb != int64(0) {
			args["size_gb"] = gb
		}
	}
	// INDIGO's BlockStorage names the volume type "type".
	for _, src := range []struct{ arg, name string }{{"volume_id", "volume_id"}, {"snapshot_id", "snapshot_id"}, {"volume_type", "volume_type"}, {"volume_type", "type"}} {
		if v, ok := tr.nodeProp(n, src.name); ok && (v.expr != "" || scalarText(jsonish(v.val)) != "") {
			args[src.arg] = v.render()
		}
	}
	if _, ok := args["size_gb"]; !ok && args["volume_id"] == nil && args["snapshot_id"] == nil {
		tr.errorf(n, n.Pos, KindMissing, "node %q: a BlockStorage needs a size (or an existing volume_id or snapshot_id)", n.Name)
	}
	// A volume attached to a scaled Compute is scaled with it: one per instance.
	users := tr.attachedBy(n)
	if len(users) > 1 {
		var list []string
		for _, u := range users {
			list = append(list, fmt.Sprintf("%q", u.Name))
		}
		tr.errorf(n, n.Pos, KindUnsupported, "node %q is attached to %d Computes (%s); a volume attaches to one", n.Name, len(users), strings.Join(list, ", "))
		return
	}
	if len(users) == 1 {
		host := tr.nodes[users[0].Name]
		host.count, host.scalable = tr.instanceCount(users[0])
		info.count, info.scalable = host.count, host.scalable
		tr.attachment(host, info)
	}
}

// mountRE is what a mount location may look like: an absolute path of plain
// characters (it reaches cloud-init and a shell script's arguments).
var mountRE = regexp.MustCompile(`^/[A-Za-z0-9._/-]*$`)

// systemDirs are never mount points: mounting a volume there would hide the system.
var systemDirs = map[string]bool{"": true, "/boot": true, "/etc": true, "/usr": true, "/proc": true, "/sys": true, "/dev": true,
	"/bin": true, "/sbin": true, "/lib": true, "/var": true, "/root": true}

var fsTypes = map[string]bool{"ext4": true, "ext3": true, "xfs": true, "btrfs": true}

// attachment adds the module that attaches a volume to its Compute, instance by
// instance. A mount location (AttachesTo location, /data) makes the Compute
// format the volume when it is new and mount it there.
func (tr *translator) attachment(compute, volume *nodeInfo) {
	var rel *RequirementAssignment
	for _, r := range compute.node.Requirements {
		if r.Node == volume.node.Name && tr.reg.IsA(RelationshipType, r.Relationship, relAttachesTo) {
			rel = r
			break
		}
	}
	ident := tr.mods.get(compute.node.Name+"_attach_"+volume.node.Name, "attach_")
	args := map[string]any{
		"source":        modules.Source(tr.target, modules.VolumeAttachment),
		"count":         tr.countArg(compute),
		"name":          ident + "-${count.index}",
		"deployment_id": "${var.orc_deployment_id}",
		"index":         "${count.index}",
		"target":        "${var.orc_target}",
		"compute_id":    fmt.Sprintf("${module.%s[count.index].id}", compute.ident),
		"volume_id":     fmt.Sprintf("${module.%s[count.index].id}", volume.ident),
		"device":        nil,
		"location":      nil,
	}
	relProp := func(key string) (tfv, bool) {
		e, ok := rel.RelProperties[key]
		tr.use(compute.node, relWhere(rel), key)
		if !ok {
			if def := tr.reg.Properties(RelationshipType, rel.Relationship)[key]; def != nil && def.Default != nil {
				raw, _ := plain(def.Default)
				e = &Lit{Value: raw, Pos: def.Pos}
			} else {
				return tfv{}, false
			}
		}
		v, err := tr.eval(evalCtx{self: compute.node, source: compute.node, target: volume.node, module: compute.ident}, e)
		if unres, ok := asUnresolvable(err); ok {
			tr.warnf(compute.node, e.exprPos(), KindUnsupported, "attachment of %q to %q, %s: %s; it is left unset", volume.node.Name, compute.node.Name, key, unres.msg)
			return tfv{}, false
		}
		if err != nil {
			tr.errorf(compute.node, e.exprPos(), KindFunction, "attachment of %q to %q, %s: %s", volume.node.Name, compute.node.Name, key, err.Error())
			return tfv{}, false
		}
		if v.known && (v.val == nil || scalarText(jsonish(v.val)) == "") {
			return tfv{}, false
		}
		return v, true
	}
	pos := rel.Pos
	if v, ok := relProp("device"); ok {
		args["device"] = v.render()
	}
	location, hasLocation := relProp("location")
	if hasLocation && !location.known {
		tr.errorf(compute.node, pos, KindValue, "attachment of %q to %q: the mount location must be known when the template is translated", volume.node.Name, compute.node.Name)
		hasLocation = false
	}
	fsType := "ext4"
	if v, ok := relProp("fs_type"); ok && v.known {
		fsType = strings.ToLower(scalarText(jsonish(v.val)))
		if !fsTypes[fsType] {
			tr.errorf(compute.node, pos, KindValue, "attachment of %q to %q: fs_type %s is not one orchestrator formats (ext4, ext3, xfs, btrfs)", volume.node.Name, compute.node.Name, describe(fsType))
			return
		}
	}
	if !hasLocation {
		tr.modules[ident] = args
		return
	}
	loc := scalarText(jsonish(location.val))
	if strings.HasPrefix(loc, "/dev/") {
		// Some templates give the device as the location.
		args["device"] = escapeTemplate(loc)
		tr.modules[ident] = args
		return
	}
	clean := strings.TrimSuffix(loc, "/")
	if !mountRE.MatchString(loc) || systemDirs[clean] || strings.Contains("/"+loc+"/", "/../") || strings.Contains("/"+loc+"/", "/./") {
		tr.errorf(compute.node, pos, KindValue, "attachment of %q to %q: location %s is not a mount point orchestrator uses (an absolute path of letters, digits, ., _, - and /, not a system directory)",
			volume.node.Name, compute.node.Name, describe(loc))
		return
	}
	args["location"] = escapeTemplate(loc)
	tr.modules[ident] = args
	// A volume that is created blank is formatted; an existing one or one made
	// from a snapshot holds data and never is.
	format := true
	for _, key := range []string{"volume_id", "snapshot_id"} {
		if _, set := volume.node.Properties[key]; set {
			format = false
		}
	}
	compute.volumes = append(compute.volumes, map[string]any{
		"volume_id": fmt.Sprintf("${module.%s[count.index].id}", volume.ident),
		"location":  escapeTemplate(loc),
		"fs_type":   fsType,
		"format":    format,
	})
}

// relWhere names a requirement's relationship for the honoured-values record.
func relWhere(r *RequirementAssignment) string {
	return fmt.Sprintf("requirement %s@%d:%d", r.Name, r.Pos.Line, r.Pos.Column)
}
