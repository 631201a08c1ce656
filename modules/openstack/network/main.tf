# A Neutron network with one subnet, and a router to the target's external network
# when target.external_network_id is set.

terraform {
  required_providers {
    openstack = {
      source  = "terraform-provider-openstack/openstack"
      version = "~> 3.4"
    }
  }
}

locals {
  cidr         = coalesce(var.cidr, cidrsubnet("192.168.0.0/16", 8, var.index % 256))
  external_id  = try(var.target.external_network_id, "")
  with_router  = local.external_id != ""
  network_name = coalesce(var.network_name, "${var.deployment_id}-${var.name}")
}

resource "openstack_networking_network_v2" "network" {
  name           = local.network_name
  admin_state_up = true
}

resource "openstack_networking_subnet_v2" "subnet" {
  name        = local.network_name
  network_id  = openstack_networking_network_v2.network.id
  cidr        = local.cidr
  ip_version  = var.ip_version
  gateway_ip  = var.gateway_ip
  enable_dhcp = var.dhcp_enabled

  dynamic "allocation_pool" {
    for_each = var.start_ip != null && var.end_ip != null ? [1] : []
    content {
      start = var.start_ip
      end   = var.end_ip
    }
  }
}

resource "openstack_networking_router_v2" "router" {
  count               = local.with_router ? 1 : 0
  name                = local.network_name
  external_network_id = local.external_id
}

resource "openstack_networking_router_interface_v2" "router" {
  count     = local.with_router ? 1 : 0
  router_id = openstack_networking_router_v2.router[0].id
  subnet_id = openstack_networking_subnet_v2.subnet.id
}
