output "id" {
  value = openstack_compute_volume_attach_v2.attachment.id
}

output "device" {
  value = openstack_compute_volume_attach_v2.attachment.device
}

output "orc_resource" {
  value = {
    cloud_id = openstack_compute_volume_attach_v2.attachment.id
    kind     = "volume_attachment"
    attributes = {
      simulated  = false
      compute_id = var.compute_id
      volume_id  = var.volume_id
      device     = openstack_compute_volume_attach_v2.attachment.device
    }
  }
}
