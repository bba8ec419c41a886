"""What the vehicle_listings DAG does with the data: plan the work, build the manifest and the report."""
