/*
 * v1.h - handlers of /api/v1, listed in the route table (api/routes.c).
 */
#ifndef VAULT_API_V1_H
#define VAULT_API_V1_H

#include "api/api.h"

enum verr v1_register(struct api_req *req, struct api_resp *resp);
enum verr v1_login(struct api_req *req, struct api_resp *resp);
enum verr v1_refresh(struct api_req *req, struct api_resp *resp);
enum verr v1_logout(struct api_req *req, struct api_resp *resp);
enum verr v1_me(struct api_req *req, struct api_resp *resp);
enum verr v1_me_delete(struct api_req *req, struct api_resp *resp);

enum verr v1_tokens_create(struct api_req *req, struct api_resp *resp);
enum verr v1_tokens_list(struct api_req *req, struct api_resp *resp);
enum verr v1_tokens_delete(struct api_req *req, struct api_resp *resp);

enum verr v1_notes_create(struct api_req *req, struct api_resp *resp);
enum verr v1_notes_list(struct api_req *req, struct api_resp *resp);
enum verr v1_notes_get(struct api_req *req, struct api_resp *resp);
enum verr v1_notes_update(struct api_req *req, struct api_resp *resp);
enum verr v1_notes_delete(struct api_req *req, struct api_resp *resp);
enum verr v1_notes_links(struct api_req *req, struct api_resp *resp);
enum verr v1_render(struct api_req *req, struct api_resp *resp);
enum verr v1_export(struct api_req *req, struct api_resp *resp);
enum verr v1_tags(struct api_req *req, struct api_resp *resp);
enum verr v1_import(struct api_req *req, struct api_resp *resp);

enum verr v1_search(struct api_req *req, struct api_resp *resp);
enum verr v1_search_post(struct api_req *req, struct api_resp *resp);
enum verr v1_ask(struct api_req *req, struct api_resp *resp);
enum verr v1_index_status(struct api_req *req, struct api_resp *resp);

#endif
