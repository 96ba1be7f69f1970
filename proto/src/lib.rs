//! Wire types of dcr. Services convert these into their domain types at the edge;
//! domain code never sees prost types, with one exception: `ProviderType` and the
//! provider schema (`providers`), the one definition of the provider types that
//! registry-svc and dcrctl share.

pub mod registry {
    pub mod v1 {
        tonic::include_proto!("dcr.registry.v1");
    }
}

pub mod providers;
pub mod strategies;

pub mod authz {
    pub mod v1 {
        tonic::include_proto!("dcr.authz.v1");
    }
}

pub mod token {
    pub mod v1 {
        tonic::include_proto!("dcr.token.v1");
    }
}

/// The encoded file descriptor set of every dcr proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("dcr_descriptor");
