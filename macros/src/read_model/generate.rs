//! Generate `#[derive(ReadModel)]`'s impl from a checked [`ReadModel`].

use proc_macro2::TokenStream;
use quote::quote;

use super::check::ReadModel;

/// `impl ReadModel` with its static descriptor, and the inventory registration.
pub(super) fn generate(model: &ReadModel) -> TokenStream {
    let f = &model.krate;
    let ident = &model.ident;
    let type_name = ident.to_string();
    let table = &model.table;
    let key_name = &model.key.column;
    let key_ident = &model.key.field;
    let key_ty = &model.key.ty;
    let columns = model.columns.iter().map(|c| {
        let (name, ty, nullable, description) = (&c.name, &c.ty, c.nullable, &c.description);
        quote! {
            #f::projection::Column {
                name: #name,
                ty: #f::projection::ColumnType::#ty,
                nullable: #nullable,
                description: #description,
            }
        }
    });
    let indexes = &model.indexes;
    let changes = model.changes;
    let description = &model.description;
    quote! {
        impl #f::ReadModel for #ident {
            type Key = #key_ty;

            fn descriptor() -> &'static #f::ReadModelDescriptor {
                static DESCRIPTOR: #f::ReadModelDescriptor = #f::ReadModelDescriptor {
                    name: #type_name,
                    table: #table,
                    key: #key_name,
                    columns: &[#(#columns),*],
                    indexes: &[#(#f::projection::Index { columns: &[#(#indexes),*] }),*],
                    changes: #changes,
                    description: #description,
                };
                &DESCRIPTOR
            }

            fn key(&self) -> &Self::Key {
                &self.#key_ident
            }
        }

        #f::__private::inventory::submit! {
            #f::__private::ReadModelRegistration(<#ident as #f::ReadModel>::descriptor)
        }
    }
}
