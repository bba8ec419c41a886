"""Starting vehicle_listings when a dealer's listing file arrives: S3 notifications, an SQS queue, an asset watcher."""
