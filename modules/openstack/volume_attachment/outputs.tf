output "id" {
  description = "The attachment id (<server id>/<volume id>)."
  value       = openstack_compute_volume_attach_v2.attachment.id
}

output "device" {
  description = "The device Nova reports for the volume (it may differ from the one asked for)."
  value       = openstack_compute_volume_attach_v2.attachment.device
}

output "orc_resource" {
  description = "What the orchestrator's resources API shows of this attachment."
  value = {
    cloud_id = openstack_compute_volume_attach_v2.attachment.id
    kind     = "volume_attachment"
    attributes = {
      simulated  = false
      name       = var.name
      compute_id = var.compute_id
      volume_id  = var.volume_id
      device     = openstack_compute_volume_attach_v2.attachment.device
      location   = local.location
    }
  }
}
