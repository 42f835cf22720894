"""The GraphQL API: schema, resolvers, data loaders and query limits."""
