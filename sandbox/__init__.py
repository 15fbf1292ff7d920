"""Local emulators of the Marketo and Salesforce REST APIs (see SPEC section 11)."""
