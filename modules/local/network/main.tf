# A SIMULATED network and subnet, in Terraform state only.

terraform {
  required_providers {
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

locals {
  cidr = coalesce(var.cidr, cidrsubnet("10.20.0.0/16", 8, var.index % 256))
}

resource "random_uuid" "id" {
  keepers = {
    name = var.name
    cidr = local.cidr
  }
}

resource "terraform_data" "network" {
  input = {
    id           = random_uuid.id.result
    name         = coalesce(var.network_name, var.name)
    cidr         = local.cidr
    ip_version   = var.ip_version
    gateway_ip   = coalesce(var.gateway_ip, cidrhost(local.cidr, 1))
    start_ip     = var.start_ip
    end_ip       = var.end_ip
    dhcp_enabled = var.dhcp_enabled
  }

  lifecycle {
    precondition {
      condition     = can(cidrhost(local.cidr, 1))
      error_message = "Network ${var.name}: cidr ${local.cidr} is not a valid address range."
    }
  }
}
