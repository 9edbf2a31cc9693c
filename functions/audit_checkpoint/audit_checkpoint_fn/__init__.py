"""The daily audit checkpoint (EventBridge Scheduler target)."""
