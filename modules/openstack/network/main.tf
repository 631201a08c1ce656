# A Neutron network with one subnet, and a router from it to the target's external
# network when target.external_network_id is set and external_access is true.

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    openstack = {
      source  = "terraform-provider-openstack/openstack"
      version = "~> 3.4"
    }
  }
}

locals {
  name = var.network_name == null ? "${var.deployment_id}-${var.name}" : var.network_name
  # Without a cidr, a range derived from the instance name, so that two networks
  # of a deployment rarely overlap.
  slot = parseint(substr(sha256(var.name), 0, 4), 16) % 256
  default_cidr = (var.ip_version == 6
    ? cidrsubnet("fd00:10:20::/48", 16, local.slot)
    : cidrsubnet("192.168.0.0/16", 8, local.slot)
  )
  cidr                = var.cidr == null ? local.default_cidr : var.cidr
  external_network_id = try(coalesce(var.target.external_network_id), "")
  with_router         = local.external_network_id != "" && var.external_access
}

resource "openstack_networking_network_v2" "network" {
  name           = local.name
  description    = "Network ${var.name} of orchestrator deployment ${var.deployment_id}"
  admin_state_up = true
}

resource "openstack_networking_subnet_v2" "subnet" {
  name        = local.name
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

  lifecycle {
    precondition {
      condition     = (length(split(":", local.cidr)) > 1 ? 6 : 4) == var.ip_version
      error_message = "network ${var.name}: cidr ${local.cidr} is not an IPv${var.ip_version} range."
    }
  }
}

resource "openstack_networking_router_v2" "router" {
  count               = local.with_router ? 1 : 0
  name                = local.name
  description         = "Router of ${var.name} (orchestrator deployment ${var.deployment_id})"
  external_network_id = local.external_network_id
}

resource "openstack_networking_router_interface_v2" "router" {
  count     = local.with_router ? 1 : 0
  router_id = openstack_networking_router_v2.router[0].id
  subnet_id = openstack_networking_subnet_v2.subnet.id
}
