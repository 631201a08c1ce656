package server

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"orchestrator/store"
	"orchestrator/tosca2tf"
)

// indigoResourceJSON is a resource as the INDIGO orchestrator shows it (its
// BaseResource): one instance of a node template.
type indigoResourceJSON struct {
	UUID          string              `json:"uuid"`
	CreationTime  string              `json:"creationTime"`
	UpdateTime    string              `json:"updateTime"`
	PhysicalID    string              `json:"physicalId,omitempty"`
	State         store.ResourceState `json:"state"`
	ToscaNodeType string              `json:"toscaNodeType"`
	ToscaNodeName string              `json:"toscaNodeName"`
	// RequiredBy are the resources whose node templates require this one's.
	RequiredBy []string `json:"requiredBy"`
	// Metadata are the attributes the cloud reports (addresses, flavor...), as
	// strings, and the resource's Terraform address.
	Metadata map[string]string `json:"metadata"`
	Links    []indigoLink      `json:"links"`
}

func indigoResource(r *store.Resource, requiredBy []string, l *links) indigoResourceJSON {
	meta := map[string]string{"terraformAddress": r.Address, "instance": strconv.Itoa(r.Instance)}
	for k, v := range r.Attributes {
		if s, ok := v.(string); ok {
			meta[k] = s
		} else if raw, err := json.Marshal(v); err == nil {
			meta[k] = string(raw)
		}
	}
	if requiredBy == nil {
		requiredBy = []string{}
	}
	dep := indigoPrefix + "/deployments/" + r.DeploymentID
	return indigoResourceJSON{UUID: r.ID, CreationTime: indigoTime(r.CreatedAt), UpdateTime: indigoTime(r.UpdatedAt), PhysicalID: r.CloudID,
		State: r.State, ToscaNodeType: r.ToscaType, ToscaNodeName: r.Node, RequiredBy: requiredBy, Metadata: meta,
		Links: append(l.to("deployment", dep), l.to("self", dep+"/resources/"+r.ID)...)}
}

// requiredBy maps each resource id to the ids of the resources whose node
// templates have a requirement on its node template. A template that no longer
// parses (its type library moved) gives no relations rather than an error.
func (s *Server) requiredBy(ctx context.Context, d *store.Deployment, all []*store.Resource) map[string][]string {
	t, err := tosca2tf.Parse(ctx, tosca2tf.Source{Name: "template.yaml", Content: []byte(d.Template)}, s.resolver)
	if err != nil {
		return map[string][]string{}
	}
	requirers := map[string][]string{} // node -> nodes requiring it
	for _, n := range t.Nodes {
		for _, req := range n.Requirements {
			if req.Node != "" {
				requirers[req.Node] = append(requirers[req.Node], n.Name)
			}
		}
	}
	byNode := map[string][]string{}
	for _, r := range all {
		byNode[r.Node] = append(byNode[r.Node], r.ID)
	}
	out := map[string][]string{}
	for _, r := range all {
		for _, node := range requirers[r.Node] {
			out[r.ID] = append(out[r.ID], byNode[node]...)
		}
	}
	return out
}

// indigoResourceSort names the fields resources may be sorted by.
var indigoResourceSort = map[string]string{"createdAt": "createdAt", "updatedAt": "updatedAt", "state": "state",
	"toscaNodeName": "toscaNodeName", "toscaNodeType": "toscaNodeType"}

func resourceLess(a, b *store.Resource, keys []store.SortKey) bool {
	for _, k := range keys {
		var c int
		switch k.Field {
		case "createdAt":
			c = a.CreatedAt.Compare(b.CreatedAt)
		case "updatedAt":
			c = a.UpdatedAt.Compare(b.UpdatedAt)
		case "state":
			c = compareStrings(string(a.State), string(b.State))
		case "toscaNodeName":
			c = compareStrings(a.Node, b.Node)
		case "toscaNodeType":
			c = compareStrings(a.ToscaType, b.ToscaType)
		}
		if k.Desc {
			c = -c
		}
		if c != 0 {
			return c < 0
		}
	}
	// Resources synced together share their times: node and instance decide.
	if a.Node != b.Node {
		return a.Node < b.Node
	}
	return a.Instance < b.Instance
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// indigoListResources pages a deployment's resources, newest first; type
// keeps those of one TOSCA node type.
func (s *Server) indigoListResources(c *fiber.Ctx) error {
	q, err := parseQuery(c, "type", "page", "size", "sort")
	if err != nil {
		return err
	}
	paging, err := indigoPageQuery(q)
	if err != nil {
		return err
	}
	keys, err := indigoSort(q, indigoResourceSort)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		keys = []store.SortKey{{Field: "createdAt", Desc: true}}
	}
	d, err := s.deployment(c, c.Params("id"))
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	all, err := s.store.Resources.List(ctx, d.ID)
	if err != nil {
		return err
	}
	var list []*store.Resource
	for _, r := range all {
		if t := q.str("type"); t == "" || r.ToscaType == t {
			list = append(list, r)
		}
	}
	sort.SliceStable(list, func(i, j int) bool { return resourceLess(list[i], list[j], keys) })
	from := min(paging.number*paging.size, len(list))
	to := min(from+paging.size, len(list))
	rel, l := s.requiredBy(ctx, d, all), s.linksFor(c)
	content := make([]indigoResourceJSON, 0, to-from)
	for _, r := range list[from:to] {
		content = append(content, indigoResource(r, rel[r.ID], l))
	}
	return c.JSON(newIndigoPage(c, l, content, paging, len(list)))
}

func (s *Server) indigoGetResource(c *fiber.Ctx) error {
	d, r, err := s.resource(c)
	if err != nil {
		return err
	}
	all, err := s.store.Resources.List(c.UserContext(), d.ID)
	if err != nil {
		return err
	}
	return c.JSON(indigoResource(r, s.requiredBy(c.UserContext(), d, all)[r.ID], s.linksFor(c)))
}

type indigoActionRequest struct {
	Type *string `json:"type"`
}

// indigoResourceAction starts or stops (or reboots) a Compute instance, as POST
// /api/v1/deployments/{id}/resources/{rid}/actions: 202 with no body, as INDIGO.
func (s *Server) indigoResourceAction(c *fiber.Ctx) error {
	d, r, err := s.resource(c)
	if err != nil {
		return err
	}
	var req indigoActionRequest
	if err := decodeJSONIgnoringUnknown(c, &req); err != nil {
		return err
	}
	if req.Type == nil {
		return invalid("type", "an action type must be provided: start or stop")
	}
	if _, err := s.act(c.UserContext(), principalOf(c), d, r, "type", *req.Type); err != nil {
		return err
	}
	return acceptedNoBody(c)
}
