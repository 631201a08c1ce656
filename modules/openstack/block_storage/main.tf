# A Cinder volume (or an existing one, by volume_id).

terraform {
  required_providers {
    openstack = {
      source  = "terraform-provider-openstack/openstack"
      version = "~> 3.4"
    }
  }
}

resource "openstack_blockstorage_volume_v3" "volume" {
  count       = var.volume_id == null ? 1 : 0
  name        = "${var.deployment_id}-${var.name}"
  size        = var.size_gb
  volume_type = var.volume_type
  snapshot_id = var.snapshot_id

  lifecycle {
    precondition {
      condition     = var.size_gb != null || var.snapshot_id != null
      error_message = "Volume ${var.name} needs a size, a volume_id or a snapshot_id."
    }
  }
}

locals {
  id = var.volume_id != null ? var.volume_id : openstack_blockstorage_volume_v3.volume[0].id
}
