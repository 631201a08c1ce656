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

variable "size_gb" {
  description = "Size in GiB (TOSCA size, rounded up)."
  type        = number
  default     = null
}

variable "volume_type" {
  type    = string
  default = null
}

variable "volume_id" {
  description = "An existing volume to use instead of creating one."
  type        = string
  default     = null
}

variable "snapshot_id" {
  description = "A snapshot to create the volume from."
  type        = string
  default     = null
}
