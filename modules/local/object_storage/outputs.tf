output "id" {
  value = random_uuid.id.result
}

output "name" {
  value = terraform_data.container.output.name
}

output "orc_resource" {
  value = {
    cloud_id = random_uuid.id.result
    kind     = "object_storage"
    attributes = {
      simulated = true
      name      = terraform_data.container.output.name
      size_gb   = var.size_gb
    }
  }
}
