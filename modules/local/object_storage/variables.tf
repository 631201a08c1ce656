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
  description = "The target's non-secret configuration."
  type        = any
  default     = {}
}

variable "size_gb" {
  description = "Quota in GiB (TOSCA ObjectStorage size); null = no quota."
  type        = number
  default     = null
  validation {
    condition     = var.size_gb == null ? true : var.size_gb > 0
    error_message = "size_gb must be more than 0."
  }
}

variable "container_name" {
  description = "The container's name (TOSCA ObjectStorage name); null = <deployment_id>-<name>."
  type        = string
  default     = null
  validation {
    condition     = var.container_name == null ? true : length(var.container_name) > 0 && length(var.container_name) <= 256 && length(regexall("/", var.container_name)) == 0
    error_message = "container_name must be 1 to 256 characters without \"/\"."
  }
}
