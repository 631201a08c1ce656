package openstacke2e

import (
	"testing"
	"time"

	"orchestrator/modules/openstack/ossim"
	"orchestrator/store"
)

// A floating IP reaches a port on a deployment's own network through that
// network's router interface: Neutron refuses the association before the
// interface exists (404) and the interface's removal while the association
// stands (409). Slow Neutron calls make any missing ordering show.
func TestFloatingIPsWaitForTheRouterInterface(t *testing.T) {
	t.Parallel()
	e := newOpenStack(t, osOpts{sim: buildOnly})
	e.cloud.Inject(ossim.Fault{Service: "network", Method: "PUT", Path: "/add_router_interface", Delay: 8 * time.Second})
	d := e.submit(example(t, "private-network"), nil)
	e.wait(d.ID, store.CreateComplete)

	e.cloud.ClearFaults()
	e.cloud.Inject(ossim.Fault{Service: "network", Method: "PUT", Path: "/floatingips/", Delay: 3 * time.Second})
	e.enqueue(d.ID, store.Request{Kind: store.RunDelete})
	e.wait(d.ID, store.DeleteComplete)
	e.checkNothingLeft()
	// GETs answered 404 are the provider's polls for deleted things; a PUT
	// refused is an association or an interface removal out of order.
	for _, r := range e.cloud.Requests() {
		if r.Status >= 400 && r.Method != "GET" {
			t.Errorf("the cloud refused %s %s with %d", r.Method, r.Path, r.Status)
		}
	}
}
