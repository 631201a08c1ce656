output "id" {
  description = "The container id (its name)."
  value       = openstack_objectstorage_container_v1.container.id
}

output "name" {
  description = "The container's name."
  value       = openstack_objectstorage_container_v1.container.name
}

output "orc_resource" {
  description = "What the orchestrator's resources API shows of this container."
  value = {
    cloud_id = openstack_objectstorage_container_v1.container.id
    kind     = "object_storage"
    attributes = {
      simulated = false
      name      = openstack_objectstorage_container_v1.container.name
      size_gb   = var.size_gb
    }
  }
}
