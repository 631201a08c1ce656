output "id" {
  description = "The Cinder volume id (volume_id when given)."
  value       = local.id
}

output "size_gb" {
  description = "Size in GiB."
  value       = var.size_gb
}

output "orc_resource" {
  description = "What the orchestrator's resources API shows of this volume."
  value = {
    cloud_id = local.id
    kind     = "block_storage"
    attributes = {
      simulated   = false
      name        = "${var.deployment_id}-${var.name}"
      size_gb     = var.size_gb
      volume_type = local.existing ? var.volume_type : openstack_blockstorage_volume_v3.volume[0].volume_type
      snapshot_id = var.snapshot_id
      existing    = local.existing
    }
  }
}
