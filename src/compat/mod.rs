pub mod tenant_api;
