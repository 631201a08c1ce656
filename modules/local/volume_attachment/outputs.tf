output "id" {
  value = terraform_data.attachment.id
}

output "device" {
  value = terraform_data.attachment.output.device
}

output "orc_resource" {
  value = {
    cloud_id = terraform_data.attachment.id
    kind     = "volume_attachment"
    attributes = {
      simulated  = true
      compute_id = var.compute_id
      volume_id  = var.volume_id
      device     = terraform_data.attachment.output.device
    }
  }
}
