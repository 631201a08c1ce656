# Ports on this network may get floating IPs, which Neutron associates only
# through the router interface and refuses to outlive it: whatever uses the
# network is created after the interface and destroyed before it.

output "id" {
  description = "The Neutron network id (known once the network is routed to the external one, when it is)."
  value       = openstack_networking_network_v2.network.id
  depends_on  = [openstack_networking_router_interface_v2.router]
}

output "subnet_id" {
  description = "The subnet id (known once the subnet is routed, when it is)."
  value       = openstack_networking_subnet_v2.subnet.id
  depends_on  = [openstack_networking_router_interface_v2.router]
}

output "name" {
  description = "The network's name."
  value       = openstack_networking_network_v2.network.name
}

output "cidr" {
  description = "The subnet's address range."
  value       = openstack_networking_subnet_v2.subnet.cidr
  depends_on  = [openstack_networking_router_interface_v2.router]
}

output "orc_resource" {
  description = "What the orchestrator's resources API shows of this network."
  value = {
    cloud_id = openstack_networking_network_v2.network.id
    kind     = "network"
    attributes = {
      simulated       = false
      name            = openstack_networking_network_v2.network.name
      subnet_id       = openstack_networking_subnet_v2.subnet.id
      cidr            = openstack_networking_subnet_v2.subnet.cidr
      ip_version      = var.ip_version
      gateway_ip      = openstack_networking_subnet_v2.subnet.gateway_ip
      dhcp_enabled    = var.dhcp_enabled
      router_id       = local.with_router ? openstack_networking_router_v2.router[0].id : null
      external_access = var.external_access
    }
  }
  depends_on = [openstack_networking_router_interface_v2.router]
}
