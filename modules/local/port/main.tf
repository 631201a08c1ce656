# A SIMULATED port: an address and a MAC in Terraform state only.

terraform {
  required_providers {
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

locals {
  cidr       = var.network != null ? var.network.cidr : try(var.target.default_network_cidr, "10.10.0.0/16")
  hosts      = pow(2, 32 - tonumber(split("/", local.cidr)[1]))
  allocated  = cidrhost(local.cidr, 2 + (var.address_offset + var.index - 2) % max(local.hosts - 3, 1))
  ip_address = coalesce(var.ip_address, local.allocated)
}

resource "random_uuid" "id" {
  keepers = {
    name = var.name
  }
}

resource "random_id" "mac" {
  byte_length = 3
  keepers = {
    name = var.name
  }
}

resource "terraform_data" "port" {
  input = {
    id          = random_uuid.id.result
    network_id  = var.network != null ? var.network.id : "default"
    ip_address  = local.ip_address
    mac_address = format("fa:16:3e:%s:%s:%s", substr(random_id.mac.hex, 0, 2), substr(random_id.mac.hex, 2, 2), substr(random_id.mac.hex, 4, 2))
    order       = var.order
    is_default  = var.is_default
  }

  lifecycle {
    precondition {
      condition     = can(cidrhost("${local.ip_address}/32", 0)) && cidrsubnet("${local.ip_address}/${split("/", local.cidr)[1]}", 0, 0) == cidrsubnet(local.cidr, 0, 0)
      error_message = "Port ${var.name}: address ${local.ip_address} is not in the network ${local.cidr}."
    }
  }
}
