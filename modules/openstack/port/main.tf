# A Neutron port on a network, with a fixed address when one is given.

terraform {
  required_providers {
    openstack = {
      source  = "terraform-provider-openstack/openstack"
      version = "~> 3.4"
    }
  }
}

locals {
  network_id = var.network != null ? var.network.id : try(var.target.default_network_id, null)
  subnet_id  = var.network != null ? var.network.subnet_id : try(var.target.default_subnet_id, null)
}

resource "openstack_networking_port_v2" "port" {
  name       = "${var.deployment_id}-${var.name}"
  network_id = local.network_id

  dynamic "fixed_ip" {
    for_each = var.ip_address != null ? [var.ip_address] : []
    content {
      subnet_id  = local.subnet_id
      ip_address = fixed_ip.value
    }
  }

  lifecycle {
    precondition {
      condition     = local.network_id != null
      error_message = "Port ${var.name} has no network: link it to a Network node or set the target's default_network_id."
    }
  }
}
