output "id" {
  value = local.id
}

output "size_gb" {
  value = terraform_data.volume.output.size_gb
}

output "orc_resource" {
  value = {
    cloud_id = local.id
    kind     = "block_storage"
    attributes = {
      simulated   = true
      name        = var.name
      size_gb     = terraform_data.volume.output.size_gb
      volume_type = var.volume_type
    }
  }
}
