output "id" {
  description = "The (simulated) container id."
  value       = terraform_data.container.id
}

output "name" {
  description = "The container's name."
  value       = local.container_name
}

output "orc_resource" {
  description = "What the orchestrator's resources API shows of this container."
  value = {
    cloud_id = terraform_data.container.id
    kind     = "object_storage"
    attributes = {
      simulated = true
      name      = local.container_name
      size_gb   = var.size_gb
    }
  }
}
