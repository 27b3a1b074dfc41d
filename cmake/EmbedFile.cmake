# eimc_embed_file(TARGET_VAR INPUT SYMBOL): generates a .cpp defining
#   extern const unsigned char SYMBOL[]; extern const unsigned long SYMBOL_size;
# from INPUT at build time and appends it to TARGET_VAR (a source list).
# Used for the freestanding runtime object and the target BTF, which are
# built by clang-19 while eimc is built and carried inside the eimc binary.
set(EIMC_EMBED_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/EmbedFileScript.cmake)
function(eimc_embed_file out_var input symbol)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${symbol}.cpp)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DINPUT=${input} -DOUTPUT=${out} -DSYMBOL=${symbol}
            -P ${EIMC_EMBED_SCRIPT}
    DEPENDS ${input} ${EIMC_EMBED_SCRIPT}
    COMMENT "Embedding ${symbol}")
  set(${out_var} ${${out_var}} ${out} PARENT_SCOPE)
endfunction()
