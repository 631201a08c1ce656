// Package openstacke2e holds end-to-end tests of the engine on the openstack
// target: the real terraform-provider-openstack, driven by the engine through
// our modules, against ossim (modules/openstack/ossim), an in-process
// simulator of the OpenStack APIs (a test double of a remote cloud). The
// target is an ordinary "openstack" target whose OS_AUTH_URL is the
// simulator's Keystone; nothing in the engine knows the cloud is simulated.
//
// configure_test.go backs the simulated servers by network-namespace hosts
// with their own sshd, so software is configured over SSH for real.
//
// The package has no code of its own: only tests.
package openstacke2e
