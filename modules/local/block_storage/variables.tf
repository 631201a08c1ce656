# The first four variables are the ones every module takes (see modules/README.md).

variable "name" {
  description = "Instance name, <node>-<index>, unique within the deployment."
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
  description = "The target's non-secret configuration. This module reads max_volume_gb (the simulated quota, default 1000)."
  type        = any
  default     = {}
}

variable "size_gb" {
  description = "Size in GiB (TOSCA size, rounded up); null only with volume_id or snapshot_id."
  type        = number
  default     = null
  validation {
    condition     = var.size_gb == null ? true : var.size_gb >= 1 && floor(var.size_gb) == var.size_gb
    error_message = "size_gb must be a whole number of GiB, 1 or more."
  }
}

variable "volume_type" {
  description = "Volume type (recorded only); null = the cloud's default."
  type        = string
  default     = null
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
