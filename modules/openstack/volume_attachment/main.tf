# Attaches a Cinder volume to an instance.

terraform {
  required_providers {
    openstack = {
      source  = "terraform-provider-openstack/openstack"
      version = "~> 3.4"
    }
  }
}

resource "openstack_compute_volume_attach_v2" "attachment" {
  instance_id = var.compute_id
  volume_id   = var.volume_id
  device      = var.device
}
