"""Cities, fulfilment locations (stores and warehouses), the catalogue, prices and stock."""
