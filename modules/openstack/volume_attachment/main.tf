# Attaches a Cinder volume to a Nova server.

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
  given  = var.device == null ? "" : var.device
  is_dev = startswith(local.given, "/dev/")
  # A TOSCA mount location (/data) is not a device: Nova chooses the device then.
  # A mount location given as the device (older translations) counts as one.
  location = var.location != null ? var.location : (local.given != "" && !local.is_dev ? local.given : null)
}

resource "openstack_compute_volume_attach_v2" "attachment" {
  instance_id = var.compute_id
  volume_id   = var.volume_id
  device      = local.is_dev ? local.given : null
}
