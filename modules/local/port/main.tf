# A SIMULATED port: an address and a MAC address in Terraform state only.

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

locals {
  network_id   = var.network != null ? var.network.id : "default"
  subnet_id    = var.network != null ? var.network.subnet_id : null
  network_cidr = var.network != null ? var.network.cidr : coalesce(try(var.target.default_network_cidr, null), "10.10.0.0/16")
  network_bits = length(split(":", local.network_cidr)) > 1 ? 128 : 32
  prefix       = tonumber(split("/", local.network_cidr)[1])
  # The same allocation as the compute module's: host number address_offset +
  # index, wrapped to stay inside the network.
  host_number = 2 + (max(var.address_offset + var.index, 2) - 2) % max(pow(2, local.network_bits - local.prefix) - 3, 1)
  allocated   = try(cidrhost(local.network_cidr, local.host_number), null)
  ip_address  = var.ip_address == null ? local.allocated : var.ip_address
  mac_address = join(":", concat(["fa", "16", "3e"], regexall("..", random_id.mac.hex)))
}

# OpenStack's MAC prefix fa:16:3e, then three random bytes: a port on another
# network is a new port with a new MAC.
resource "random_id" "mac" {
  byte_length = 3
  keepers = {
    network_id = local.network_id
  }
}

resource "terraform_data" "port" {
  input = {
    name        = var.name
    network_id  = local.network_id
    subnet_id   = local.subnet_id
    ip_address  = local.ip_address
    mac_address = local.mac_address
    order       = var.order
    is_default  = var.is_default
  }

  # A port cannot move to another network or change its MAC.
  triggers_replace = [local.network_id, local.mac_address]

  lifecycle {
    precondition {
      condition = local.ip_address == null ? false : try(
        cidrsubnet("${local.ip_address}/${local.prefix}", 0, 0) == cidrsubnet(local.network_cidr, 0, 0),
        false
      )
      error_message = "port ${var.name}: address ${coalesce(local.ip_address, "(none)")} is not in the network ${local.network_cidr}."
    }
  }
}
