"""Goals and the queries behind /teamhealth."""
