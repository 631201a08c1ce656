variable "name" {
  description = "Instance name, unique within the deployment (<node>-<index>)."
  type        = string
}

variable "deployment_id" {
  description = "The orchestrator's deployment id."
  type        = string
}

variable "index" {
  description = "count.index of this instance."
  type        = number
  default     = 0
}

variable "target" {
  description = "The target's non-secret configuration."
  type        = any
  default     = {}
}

variable "compute_id" {
  type = string
}

variable "volume_id" {
  type = string
}

variable "device" {
  description = "Device path (TOSCA AttachesTo location); null lets the cloud choose."
  type        = string
  default     = null
}
