# A Neutron port, with a fixed address when one is given. The compute module it is
# bound to adds its security group and attaches the server to it.

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
  default_network_id = try(coalesce(var.target.default_network_id), "")
  has_network        = var.network != null || local.default_network_id != ""
  subnet_id          = var.network != null ? var.network.subnet_id : null
}

resource "openstack_networking_port_v2" "port" {
  name           = "${var.deployment_id}-${var.name}"
  description    = "Port ${var.name} of orchestrator deployment ${var.deployment_id}"
  network_id     = var.network != null ? var.network.id : local.default_network_id
  admin_state_up = true

  dynamic "fixed_ip" {
    for_each = var.ip_address != null ? [var.ip_address] : []
    content {
      subnet_id  = local.subnet_id
      ip_address = fixed_ip.value
    }
  }

  lifecycle {
    precondition {
      condition     = local.has_network
      error_message = "port ${var.name} has no network: link it to a Network node or set the target's default_network_id."
    }
  }
}
