output "id" {
  value = local.id
}

output "size_gb" {
  value = var.size_gb
}

output "orc_resource" {
  value = {
    cloud_id = local.id
    kind     = "block_storage"
    attributes = {
      simulated   = false
      size_gb     = var.size_gb
      volume_type = var.volume_type
    }
  }
}
