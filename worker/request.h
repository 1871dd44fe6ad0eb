/* worker/request.h */
