output "id" {
  description = "The (simulated) cloud id of the volume: volume_id when given, else new when the volume is replaced."
  value       = local.existing ? var.volume_id : terraform_data.volume.id
}

output "size_gb" {
  description = "Size in GiB."
  value       = var.size_gb
}

output "orc_resource" {
  description = "What the orchestrator's resources API shows of this volume."
  value = {
    cloud_id = local.existing ? var.volume_id : terraform_data.volume.id
    kind     = "block_storage"
    attributes = {
      simulated     = true
      name          = var.name
      size_gb       = var.size_gb
      volume_type   = var.volume_type
      snapshot_id   = var.snapshot_id
      existing      = local.existing
      max_volume_gb = local.max_volume_gb
    }
  }
  depends_on = [terraform_data.volume]
}
