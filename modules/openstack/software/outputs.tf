output "id" {
  description = "The payload's id in Terraform state."
  value       = terraform_data.software.id
}

output "orc_resource" {
  description = "What the orchestrator shows of this payload."
  value = {
    cloud_id = terraform_data.software.id
    kind     = "software"
    attributes = {
      recorded = true
      host_id  = var.host_id
      software = try([for s in var.software : try(tostring(s.name), "")], [])
    }
  }
}
