output "id" {
  value = openstack_objectstorage_container_v1.container.id
}

output "name" {
  value = openstack_objectstorage_container_v1.container.name
}

output "orc_resource" {
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
