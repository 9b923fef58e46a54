"""The GraphQL edge: types, inputs, payloads, thin resolvers, context and permissions."""
