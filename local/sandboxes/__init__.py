"""HTTP sandboxes that behave like the Temu Open API and the WholeCell API."""
