output "id" {
  description = "The (simulated) attachment id."
  value       = terraform_data.attachment.id
}

output "device" {
  description = "The device the volume shows as on the server."
  value       = local.device
}

output "orc_resource" {
  description = "What the orchestrator's resources API shows of this attachment."
  value = {
    cloud_id = terraform_data.attachment.id
    kind     = "volume_attachment"
    attributes = {
      simulated  = true
      name       = var.name
      compute_id = var.compute_id
      volume_id  = var.volume_id
      device     = local.device
      location   = local.location
    }
  }
}
