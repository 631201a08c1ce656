# A SIMULATED network and its subnet, in Terraform state only.

terraform {
  required_version = ">= 1.5.0"
  # Only the built-in terraform_data: no provider.
}

locals {
  name = var.network_name == null ? "${var.deployment_id}-${var.name}" : var.network_name
  # Without a cidr, a range derived from the instance name, so that two networks
  # of a deployment rarely overlap.
  slot = parseint(substr(sha256(var.name), 0, 4), 16) % 256
  default_cidr = (var.ip_version == 6
    ? cidrsubnet("fd00:10:20::/48", 16, local.slot)
    : cidrsubnet("10.20.0.0/16", 8, local.slot)
  )
  cidr       = var.cidr == null ? local.default_cidr : var.cidr
  gateway_ip = var.gateway_ip == null ? cidrhost(local.cidr, 1) : var.gateway_ip
}

resource "terraform_data" "network" {
  input = {
    name            = local.name
    deployment_id   = var.deployment_id
    external_access = var.external_access
  }
}

resource "terraform_data" "subnet" {
  input = {
    network_id   = terraform_data.network.id
    cidr         = local.cidr
    ip_version   = var.ip_version
    gateway_ip   = local.gateway_ip
    start_ip     = var.start_ip
    end_ip       = var.end_ip
    dhcp_enabled = var.dhcp_enabled
  }

  # As on a real cloud, a subnet's range cannot change: a new range is a new subnet.
  triggers_replace = [terraform_data.network.id, local.cidr, var.ip_version]

  lifecycle {
    precondition {
      condition     = (length(split(":", local.cidr)) > 1 ? 6 : 4) == var.ip_version
      error_message = "network ${var.name}: cidr ${local.cidr} is not an IPv${var.ip_version} range."
    }
  }
}
