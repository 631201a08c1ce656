# A SIMULATED attachment of a volume to a server, in Terraform state only.

resource "terraform_data" "attachment" {
  input = {
    compute_id = var.compute_id
    volume_id  = var.volume_id
    device     = coalesce(var.device, "/dev/vdb")
  }
  # Another server or volume is another attachment.
  triggers_replace = [var.compute_id, var.volume_id]
}
