# A Cinder volume, or an existing one given by volume_id (then nothing is created).
# Growing it is an in-place update (online resize, so it may stay attached).

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
  existing          = var.volume_id == null ? false : var.volume_id != ""
  availability_zone = try(coalesce(var.target.availability_zone), "")
}

resource "openstack_blockstorage_volume_v3" "volume" {
  count                = local.existing ? 0 : 1
  name                 = "${var.deployment_id}-${var.name}"
  description          = "Volume ${var.name} of orchestrator deployment ${var.deployment_id}"
  size                 = var.size_gb == null ? 0 : var.size_gb
  volume_type          = var.volume_type
  snapshot_id          = var.snapshot_id
  availability_zone    = local.availability_zone != "" ? local.availability_zone : null
  enable_online_resize = true
  metadata = {
    orchestrator_deployment = var.deployment_id
    orchestrator_node       = var.name
  }

  lifecycle {
    precondition {
      condition     = var.size_gb != null
      error_message = "volume ${var.name} needs size_gb (a snapshot's size is not known without asking the cloud), or an existing volume_id."
    }
  }
}

locals {
  id = local.existing ? var.volume_id : openstack_blockstorage_volume_v3.volume[0].id
}
